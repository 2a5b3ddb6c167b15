using Chat.Transports.Shared.Hosting;
using Chat.Transports.Shared.Models;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Chat.Transports.Shared.Errors;

public static class ChatRequestValidation
{
    /// <summary>
    /// The original's check (400 "Message is required" for an empty message after trimming) and a size limit it
    /// lacked. Returns the trimmed message, or the problem to answer with.
    /// </summary>
    public static bool TryGetMessage(this ChatRequest? request, TransportOptions options, out string message, out ProblemHttpResult? problem)
    {
        message = request?.Message?.Trim() ?? "";
        if (message.Length == 0)
        {
            problem = LlmProblems.BadRequest(LlmProblems.MessageRequired);
            return false;
        }

        if (message.Length > options.MaxMessageLength)
        {
            problem = LlmProblems.BadRequest($"Message is too long (at most {options.MaxMessageLength} characters)");
            return false;
        }

        problem = null;
        return true;
    }
}
