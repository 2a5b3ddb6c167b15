using Chat.Contracts.Llm.V1;

namespace Chat.Llm.Service.Turns;

/// <summary>
/// The one rule for what a resume gets, wherever the turn's events are read from (the in-memory feed of the turn's
/// own replica, or the Redis buffer): every event after the caller's position when the buffer still holds them all
/// in the caller's epoch (<c>recovered</c>); otherwise <c>recovered = false</c> with the reason, and what the buffer
/// still has. A caller that already has the turn's last event gets that event again, so it learns the turn is over.
/// </summary>
public static class ResumePlan
{
    public const string Trimmed = "trimmed";
    public const string EpochChanged = "epoch_changed";

    /// <param name="afterSequence">The caller's position: the last event it has.</param>
    /// <param name="requestedEpoch">The epoch that position belongs to; empty: not checked.</param>
    /// <param name="epoch">The buffer's epoch.</param>
    /// <param name="firstHeld">The oldest event the buffer holds (last + 1 when it holds none).</param>
    /// <param name="lastHeld">The newest event the buffer holds (0: none yet).</param>
    /// <param name="ended">The turn's last event is among them.</param>
    /// <returns>The status to send first, and the position to replay after.</returns>
    public static (ResumeStatus Status, long ReplayAfter) Decide(
        long afterSequence, string requestedEpoch, string epoch, long firstHeld, long lastHeld, bool ended, TurnAccepted? accepted)
    {
        var status = new ResumeStatus { Recovered = true, Epoch = epoch, LastSequence = lastHeld, Ended = ended, Accepted = accepted };
        var replayAfter = afterSequence;
        if (requestedEpoch.Length > 0 && requestedEpoch != epoch)
        {
            status.Recovered = false;
            status.Reason = EpochChanged;
            replayAfter = firstHeld - 1;
        }
        else if (afterSequence + 1 < firstHeld)
        {
            status.Recovered = false;
            status.Reason = Trimmed;
            replayAfter = firstHeld - 1;
        }

        if (ended && replayAfter >= lastHeld)
        {
            replayAfter = lastHeld - 1;
        }

        return (status, replayAfter);
    }

    /// <summary>The status as the first event of a resumed stream (sequence 0: not an event of the turn).</summary>
    public static TurnEvent ToEvent(string turnId, ResumeStatus status) => new() { TurnId = turnId, Sequence = 0, Resume = status };
}
