namespace Chat.Llm.Service.Models;

/// <summary>Which provider this replica talks to and the model a session gets when it names none.</summary>
public sealed record ModelInfo(string Provider, string DefaultModel);
