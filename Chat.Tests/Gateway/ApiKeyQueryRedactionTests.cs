using Chat.Gateway.Authentication;
using Microsoft.AspNetCore.Http.Features;

namespace Chat.Tests.Gateway;

/// <summary>The api_key query parameter leaves the URL before the host logs or traces it; the rest of the query stays.</summary>
public sealed class ApiKeyQueryRedactionTests
{
    [Fact]
    public void TakeApiKey_RemovesTheKeyFromQueryAndRawTarget_KeepingTheOtherParameters()
    {
        var request = new HttpRequestFeature { Path = "/websocket/ws", QueryString = "?m=1&api_key=secret-7e1&n=two", RawTarget = "/websocket/ws?m=1&api_key=secret-7e1&n=two" };

        var key = ApiKeyQueryRedaction.TakeApiKey(request);

        Assert.Equal("secret-7e1", key);
        Assert.Equal("?m=1&n=two", request.QueryString);
        Assert.Equal("/websocket/ws?m=1&n=two", request.RawTarget);
    }

    [Theory]
    [InlineData("")]
    [InlineData("?m=1")]
    public void TakeApiKey_WithoutTheParameter_LeavesTheRequestAlone(string query)
    {
        var request = new HttpRequestFeature { Path = "/rest/chat", QueryString = query, RawTarget = "/rest/chat" + query };

        Assert.Null(ApiKeyQueryRedaction.TakeApiKey(request));
        Assert.Equal(query, request.QueryString);
        Assert.Equal("/rest/chat" + query, request.RawTarget);
    }

    [Fact]
    public void TakeApiKey_AloneInTheQuery_LeavesNoQuery()
    {
        var request = new HttpRequestFeature { Path = "/websocket/ws", QueryString = "?api_key=k", RawTarget = "/websocket/ws?api_key=k" };

        Assert.Equal("k", ApiKeyQueryRedaction.TakeApiKey(request));
        Assert.Equal("", request.QueryString);
        Assert.Equal("/websocket/ws", request.RawTarget);
    }
}
