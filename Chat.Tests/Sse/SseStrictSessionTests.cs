using Chat.Tests.Infrastructure;

namespace Chat.Tests.Sse;

/// <summary>
/// The strict-session flag on SSE's <c>POST /chat/stream</c> and on the resumable form's <c>POST /chat/turns</c>
/// (docs/http-transports.md).
/// </summary>
[Collection(HttpTransportCollection.Name)]
public sealed class SseStrictSessionTests(HttpTransportFixture fixture)
{
    public static readonly TheoryData<string, StrictSessionChecks.Flag, string> UnknownIds = new()
    {
        { "chat/stream", StrictSessionChecks.Flag.HeaderTrue, "3f2c8a4e-9d1b-4c7a-8e6f-0a1b2c3d4e5f" },
        { "chat/stream", StrictSessionChecks.Flag.HeaderOne, "3f2c8a4e-9d1b-4c7a-8e6f-0a1b2c3d4e5f" },
        { "chat/stream", StrictSessionChecks.Flag.Query, "3f2c8a4e-9d1b-4c7a-8e6f-0a1b2c3d4e5f" },
        { "chat/stream", StrictSessionChecks.Flag.HeaderTrue, "<id>" },
        { "chat/turns", StrictSessionChecks.Flag.HeaderTrue, "3f2c8a4e-9d1b-4c7a-8e6f-0a1b2c3d4e5f" },
        { "chat/turns", StrictSessionChecks.Flag.Query, "<id>" },
    };

    [Theory]
    [MemberData(nameof(UnknownIds))]
    public async Task Chat_StrictWithAnUnknownSessionId_Is404SessionNotFound_BeforeAnyEvent_AndCreatesNothing(
        string route, StrictSessionChecks.Flag flag, string unknownId) =>
        await (await ChecksAsync(route)).UnknownIdIsNotFound_AndNothingIsCreatedAsync(flag, unknownId);

    [Theory]
    [InlineData("chat/stream")]
    [InlineData("chat/turns")]
    public async Task Chat_StrictWithAKnownSessionId_RepliesOnThatSession(string route) =>
        await (await ChecksAsync(route)).KnownIdGetsTheUsualReplyAsync();

    [Fact]
    public async Task ChatStream_StrictWithAnotherCallersSession_Is404() =>
        await (await ChecksAsync("chat/stream")).AnotherCallersSessionIsNotFoundAsync();

    [Fact]
    public async Task ChatStream_StrictWithoutASessionId_StartsANewSession() =>
        await (await ChecksAsync("chat/stream")).NoIdStartsANewSessionAsync();

    [Theory]
    [InlineData(null)]
    [InlineData("false")]
    public async Task ChatStream_NotStrictWithAnUnknownSessionId_StartsANewSession_IsNewSessionTrue(string? flagValue) =>
        await (await ChecksAsync("chat/stream")).WithoutTheFlagAnUnknownIdIsReplacedAsync(flagValue);

    private async Task<StrictSessionChecks> ChecksAsync(string route) =>
        new((await fixture.SseAsync()).CreateClient(), route,
            route == "chat/turns" ? StrictSessionChecks.ReadTurnStartedAsync : StrictSessionChecks.ReadSseReplyAsync);
}
