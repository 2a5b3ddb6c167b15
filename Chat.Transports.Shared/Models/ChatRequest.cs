namespace Chat.Transports.Shared.Models;

/// <summary>
/// The original's chat body, <c>{message, session_id?}</c>. No or an unknown <c>session_id</c> starts a new
/// session (the original's get-or-create); the reply says which session was used.
/// </summary>
public sealed record ChatRequest(string? Message, string? SessionId = null)
{
    /// <summary>Addition: the model for a session this request creates.</summary>
    public string? ModelId { get; init; }
}
