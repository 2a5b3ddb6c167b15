using Chat.Tests.Infrastructure;

namespace Chat.Tests.Rest;

/// <summary>The strict-session flag on REST's <c>POST /chat</c> (docs/http-transports.md).</summary>
[Collection(HttpTransportCollection.Name)]
public sealed class RestStrictSessionTests(HttpTransportFixture fixture)
{
    [Theory]
    [InlineData(StrictSessionChecks.Flag.HeaderTrue, "3f2c8a4e-9d1b-4c7a-8e6f-0a1b2c3d4e5f")]
    [InlineData(StrictSessionChecks.Flag.HeaderOne, "3f2c8a4e-9d1b-4c7a-8e6f-0a1b2c3d4e5f")]
    [InlineData(StrictSessionChecks.Flag.Query, "3f2c8a4e-9d1b-4c7a-8e6f-0a1b2c3d4e5f")]
    [InlineData(StrictSessionChecks.Flag.HeaderTrue, "<id>")]
    public async Task Chat_StrictWithAnUnknownSessionId_Is404SessionNotFound_AndCreatesNothing(StrictSessionChecks.Flag flag, string unknownId) =>
        await (await ChecksAsync()).UnknownIdIsNotFound_AndNothingIsCreatedAsync(flag, unknownId);

    [Fact]
    public async Task Chat_StrictWithAKnownSessionId_RepliesOnThatSession() =>
        await (await ChecksAsync()).KnownIdGetsTheUsualReplyAsync();

    [Fact]
    public async Task Chat_StrictWithAnotherCallersSession_Is404() =>
        await (await ChecksAsync()).AnotherCallersSessionIsNotFoundAsync();

    [Fact]
    public async Task Chat_StrictWithoutASessionId_StartsANewSession() =>
        await (await ChecksAsync()).NoIdStartsANewSessionAsync();

    [Theory]
    [InlineData(null)]
    [InlineData("false")]
    public async Task Chat_NotStrictWithAnUnknownSessionId_StartsANewSession_IsNewSessionTrue(string? flagValue) =>
        await (await ChecksAsync()).WithoutTheFlagAnUnknownIdIsReplacedAsync(flagValue);

    private async Task<StrictSessionChecks> ChecksAsync() =>
        new((await fixture.RestAsync()).CreateClient(), "chat", StrictSessionChecks.ReadRestReplyAsync);
}
