namespace Chat.Conversation.Sessions;

/// <summary>
/// Recognises the <c>message_added</c> update that Chat.Llm.Service publishes, to every watcher of a session, for a
/// reply this connection asked for itself, so only the session's other connections are told (as the original did).
/// The update names no turn; it is matched by its message count (the count the turn was accepted at, plus the user
/// message and the reply: one turn runs at a time per session). The update may arrive before this side has read the
/// turn's <c>accepted</c> event; while a turn awaits acceptance an unmatched update is taken as its own.
/// </summary>
public sealed class OwnReplyFilter
{
    private readonly Lock _gate = new();
    private readonly HashSet<int> _expected = [];
    private readonly HashSet<int> _seenEarly = [];
    private int _awaitingAcceptance;

    public void TurnRequested()
    {
        lock (_gate)
        {
            _awaitingAcceptance++;
        }
    }

    /// <summary>The turn was accepted with this many stored messages; returns the count its update will carry.</summary>
    public int TurnAccepted(int messageCountBefore)
    {
        var expected = messageCountBefore + 2;
        lock (_gate)
        {
            _awaitingAcceptance--;
            if (!_seenEarly.Remove(expected))
            {
                _expected.Add(expected);
            }

            ForgetEarlyWhenIdle();
        }

        return expected;
    }

    /// <summary>The turn ended before it was accepted (refused, or the connection went away).</summary>
    public void TurnRefused()
    {
        lock (_gate)
        {
            _awaitingAcceptance--;
            ForgetEarlyWhenIdle();
        }
    }

    /// <summary>The accepted turn stored no reply (cancelled or failed): no update will come for it.</summary>
    public void NoReply(int expected)
    {
        lock (_gate)
        {
            _expected.Remove(expected);
        }
    }

    public bool IsOwn(int messageCount)
    {
        lock (_gate)
        {
            if (_expected.Remove(messageCount))
            {
                return true;
            }

            if (_awaitingAcceptance > 0)
            {
                _seenEarly.Add(messageCount);
                return true;
            }

            return false;
        }
    }

    // Updates taken early belong to no turn once none awaits acceptance (someone else's, by a narrow race).
    private void ForgetEarlyWhenIdle()
    {
        if (_awaitingAcceptance == 0)
        {
            _seenEarly.Clear();
        }
    }
}
