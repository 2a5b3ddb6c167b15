using Chat.Cli.Commands;

var io = CliIo.FromConsole();

// Ctrl+C cancels the reply in flight; with none, it ends the program as usual.
Console.CancelKeyPress += (_, e) => e.Cancel = io.OnInterrupt?.Invoke() ?? false;

return await CliApplication.RunAsync(args, io);
