using Chat.Transports.Shared.Hosting;
using Microsoft.AspNetCore.Http;

namespace Chat.Tests.Transports;

/// <summary>The one parser of the strict-session flag every transport uses (docs/http-transports.md).</summary>
public sealed class StrictSessionTests
{
    [Theory]
    [InlineData("true", true)]
    [InlineData("TRUE", true)]
    [InlineData(" True ", true)]
    [InlineData("1", true)]
    [InlineData("false", false)]
    [InlineData("0", false)]
    [InlineData("yes", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void IsRequested_AcceptsTrueOrOne_AnythingElseIsTheDefault(string? value, bool strict) =>
        Assert.Equal(strict, StrictSession.IsRequested(value));

    [Theory]
    [InlineData(null, null, false)]
    [InlineData("true", null, true)]
    [InlineData(null, "?strict_session=true", true)]
    [InlineData(null, "?strict_session=1", true)]
    [InlineData(null, "?strict_session=no", false)]
    // The header wins when both are there.
    [InlineData("false", "?strict_session=true", false)]
    [InlineData("1", "?strict_session=false", true)]
    public void IsRequested_ReadsTheHeaderElseTheQuery(string? header, string? query, bool strict)
    {
        var context = new DefaultHttpContext();
        if (header is not null)
        {
            context.Request.Headers[StrictSession.HeaderName] = header;
        }

        if (query is not null)
        {
            context.Request.QueryString = new QueryString(query);
        }

        Assert.Equal(strict, StrictSession.IsRequested(context.Request));
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("  ", false)]
    [InlineData("3f2c8a4e-9d1b-4c7a-8e6f-0a1b2c3d4e5f", false)]
    [InlineData("<id>", true)]
    [InlineData("session-1", true)]
    public void CannotExist_IsTrueForAnIdThatIsNotASessionId(string? sessionId, bool cannotExist) =>
        Assert.Equal(cannotExist, StrictSession.CannotExist(sessionId));

    [Fact]
    public void NotFound_Is404_WithTitleDetailCodeAndTheSessionId()
    {
        var problem = StrictSession.NotFound(" 3f2c8a4e-9d1b-4c7a-8e6f-0a1b2c3d4e5f ");

        Assert.Equal(404, problem.StatusCode);
        Assert.Equal("Session not found", problem.ProblemDetails.Title);
        Assert.Equal("Session not found", problem.ProblemDetails.Detail);
        Assert.Equal("session_not_found", problem.ProblemDetails.Extensions["code"]);
        Assert.Equal("3f2c8a4e-9d1b-4c7a-8e6f-0a1b2c3d4e5f", problem.ProblemDetails.Extensions["session_id"]);
        Assert.Equal("NOT_FOUND", problem.ProblemDetails.Extensions["grpc_status"]);
    }
}
