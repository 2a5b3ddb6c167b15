namespace Chat.Hosting;

/// <summary>
/// Something the user can fix is missing or wrong (no build output, a port in use, no Redis to start). Run() prints the
/// message, not a stack trace, and exits with code 1.
/// </summary>
public sealed class DistributedApplicationException(string message, Exception? innerException = null)
    : Exception(message, innerException);
