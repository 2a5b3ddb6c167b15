using Chat.Transports.Shared.Errors;
using Grpc.Core;
using Microsoft.AspNetCore.Http;

namespace Chat.Tests.Transports;

public sealed class LlmProblemsTests
{
    [Theory]
    [InlineData(StatusCode.InvalidArgument, 400)]
    [InlineData(StatusCode.NotFound, 404)]
    [InlineData(StatusCode.Aborted, 409)]
    [InlineData(StatusCode.ResourceExhausted, 429)]
    [InlineData(StatusCode.Unavailable, 503)]
    [InlineData(StatusCode.DeadlineExceeded, 504)]
    [InlineData(StatusCode.Internal, 500)]
    public void FromRpc_MapsEachStatusAsTheConventionsSay(StatusCode code, int status)
    {
        var context = new DefaultHttpContext();

        var problem = LlmProblems.FromRpc(context, new RpcException(new Status(code, "detail from the service")));

        Assert.Equal(status, problem.StatusCode);
        Assert.Equal(LlmProblems.StatusName(code), problem.ProblemDetails.Extensions["grpc_status"]);
    }

    [Fact]
    public void FromRpc_ResourceExhausted_SetsRetryAfter_FromTheServiceTrailerOrADefault()
    {
        var withTrailer = new DefaultHttpContext();
        var withoutTrailer = new DefaultHttpContext();

        var problem = LlmProblems.FromRpc(withTrailer, new RpcException(new Status(StatusCode.ResourceExhausted, "Quota exceeded"), new Metadata { { "retry-after", "12" } }));
        LlmProblems.FromRpc(withoutTrailer, new RpcException(new Status(StatusCode.ResourceExhausted, "")));

        Assert.Equal("Quota exceeded", problem.ProblemDetails.Detail);
        Assert.Equal("12", withTrailer.Response.Headers.RetryAfter.ToString());
        Assert.Equal(LlmProblems.DefaultRetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), withoutTrailer.Response.Headers.RetryAfter.ToString());
    }

    [Fact]
    public void FromRpc_NeverShowsInfrastructureDetails()
    {
        var problem = LlmProblems.FromRpc(new DefaultHttpContext(),
            new RpcException(new Status(StatusCode.Unavailable, "Error connecting to subchannel 10.0.0.7:5001")));

        Assert.Equal(LlmProblems.ServiceUnavailable, problem.ProblemDetails.Detail);
    }

    [Fact]
    public void FromTurnError_ReadsTheStatusName()
    {
        var context = new DefaultHttpContext();

        var problem = LlmProblems.FromTurnError(context, "RESOURCE_EXHAUSTED", "The model's quota is used up.");

        Assert.Equal(StatusCodes.Status429TooManyRequests, problem.StatusCode);
        Assert.Equal("The model's quota is used up.", problem.ProblemDetails.Detail);
        Assert.False(string.IsNullOrEmpty(context.Response.Headers.RetryAfter));
    }
}
