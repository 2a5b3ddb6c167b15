using Chat.Sse.Streaming;

namespace Chat.Tests.Sse;

public sealed class SseEventIdTests
{
    [Theory]
    [InlineData(null, 0, 0)]
    [InlineData("", 0, 0)]
    [InlineData("t1:7", 7, 0)]
    [InlineData("7", 7, 0)]
    [InlineData("t1:1.1", 0, 1)]
    [InlineData("t1:9.1", 8, 1)]
    public void TryParse_ReadsWhereToResume(string? lastEventId, long afterSequence, int skipFrames)
    {
        Assert.True(SseEventId.TryParse(lastEventId, "t1", out var id));
        Assert.Equal(new SseEventId(afterSequence, skipFrames), id);
    }

    [Theory]
    [InlineData("t2:7")]
    [InlineData("t1:x")]
    [InlineData("t1:-3")]
    [InlineData("t1:3.0")]
    [InlineData("t1:0.1")]
    public void TryParse_RefusesIdsOfOtherTurnsOrMalformed(string lastEventId) =>
        Assert.False(SseEventId.TryParse(lastEventId, "t1", out _));
}
