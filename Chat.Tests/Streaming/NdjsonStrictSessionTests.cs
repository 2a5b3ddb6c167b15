using Chat.Tests.Infrastructure;

namespace Chat.Tests.Streaming;

/// <summary>The strict-session flag on NDJSON's <c>POST /chat/stream</c> (docs/http-transports.md).</summary>
[Collection(HttpTransportCollection.Name)]
public sealed class NdjsonStrictSessionTests(HttpTransportFixture fixture)
{
    [Theory]
    [InlineData(StrictSessionChecks.Flag.HeaderTrue, "3f2c8a4e-9d1b-4c7a-8e6f-0a1b2c3d4e5f")]
    [InlineData(StrictSessionChecks.Flag.HeaderOne, "3f2c8a4e-9d1b-4c7a-8e6f-0a1b2c3d4e5f")]
    [InlineData(StrictSessionChecks.Flag.Query, "3f2c8a4e-9d1b-4c7a-8e6f-0a1b2c3d4e5f")]
    [InlineData(StrictSessionChecks.Flag.HeaderTrue, "<id>")]
    public async Task ChatStream_StrictWithAnUnknownSessionId_Is404SessionNotFound_AndCreatesNothing(StrictSessionChecks.Flag flag, string unknownId) =>
        await (await ChecksAsync()).UnknownIdIsNotFound_AndNothingIsCreatedAsync(flag, unknownId);

    [Fact]
    public async Task ChatStream_StrictWithAKnownSessionId_RepliesOnThatSession() =>
        await (await ChecksAsync()).KnownIdGetsTheUsualReplyAsync();

    [Fact]
    public async Task ChatStream_StrictWithAnotherCallersSession_Is404() =>
        await (await ChecksAsync()).AnotherCallersSessionIsNotFoundAsync();

    [Fact]
    public async Task ChatStream_StrictWithoutASessionId_StartsANewSession() =>
        await (await ChecksAsync()).NoIdStartsANewSessionAsync();

    [Theory]
    [InlineData(null)]
    [InlineData("false")]
    public async Task ChatStream_NotStrictWithAnUnknownSessionId_StartsANewSession_IsNewSessionTrue(string? flagValue) =>
        await (await ChecksAsync()).WithoutTheFlagAnUnknownIdIsReplacedAsync(flagValue);

    private async Task<StrictSessionChecks> ChecksAsync() =>
        new((await fixture.StreamingAsync()).CreateClient(), "chat/stream", StrictSessionChecks.ReadNdjsonReplyAsync);
}
