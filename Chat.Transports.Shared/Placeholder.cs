namespace Chat.Transports.Shared;

// Filled by the HTTP transports issue; this marker keeps the project buildable until then.
internal static class Placeholder;
