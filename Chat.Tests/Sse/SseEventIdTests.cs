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
    [InlineData("t1:7@a1b2c3d4e5f6", 7, 0, "a1b2c3d4e5f6")]
    [InlineData("t1:9.1@0f0f", 8, 1, "0f0f")]
    [InlineData("t1:1.1@e", 0, 1, "e")]
    public void TryParse_ReadsThePositionAndItsEpoch(string lastEventId, long afterSequence, int skipFrames, string epoch)
    {
        Assert.True(SseEventId.TryParse(lastEventId, "t1", out var id));
        Assert.Equal(new SseEventId(afterSequence, skipFrames, epoch), id);
    }

    [Theory]
    [InlineData("t2:7")]
    [InlineData("t1:x")]
    [InlineData("t1:-3")]
    [InlineData("t1:3.0")]
    [InlineData("t1:0.1")]
    [InlineData("t1:7@")]
    [InlineData("t1:7@ab:cd")]
    [InlineData("t2:7@abc")]
    public void TryParse_RefusesIdsOfOtherTurnsOrMalformed(string lastEventId) =>
        Assert.False(SseEventId.TryParse(lastEventId, "t1", out _));
}
