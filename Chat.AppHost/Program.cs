// The orchestrator is built by the AppHost issue; until then this says so instead of pretending to run anything.
Console.Error.WriteLine("Chat.AppHost is not implemented yet: run Chat.Llm.Service directly (see README.md).");
return 1;
