using Spectre.Console;

namespace Chat.Cli.Commands;

/// <summary>
/// The process's streams, injectable so tests run the real command line in-process and read what a user would see.
/// </summary>
public sealed class CliIo(TextReader input, TextWriter output, TextWriter error, IAnsiConsole console)
{
    public TextReader In { get; } = input;

    /// <summary>Raw stdout (reply text, JSON): never re-wrapped or styled.</summary>
    public TextWriter Out { get; } = output;

    /// <summary>Raw stderr: one readable line per failure, never a stack trace.</summary>
    public TextWriter Error { get; } = error;

    /// <summary>The styled console (tables, spinner, REPL) on stdout.</summary>
    public IAnsiConsole Console { get; } = console;

    /// <summary>Write each line read after the prompt: with input from a pipe or file, the transcript shows what was sent.</summary>
    public bool EchoInput { get; init; }

    /// <summary>What Ctrl+C does now: true when it was handled (a reply cancelled) and the program should go on.</summary>
    public Func<bool>? OnInterrupt { get; set; }

    /// <summary>An environment variable reader (tests replace it).</summary>
    public Func<string, string?> GetEnvironmentVariable { get; init; } = Environment.GetEnvironmentVariable;

    public static CliIo FromConsole() => new(System.Console.In, System.Console.Out, System.Console.Error, AnsiConsole.Console)
    {
        EchoInput = System.Console.IsInputRedirected,
    };

    /// <summary>An I/O set writing into the given writers with no colours and no animation (tests, pipes).</summary>
    public static CliIo Plain(TextReader input, TextWriter output, TextWriter error, int width = 160) =>
        new(input, output, error, AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        }).WithWidth(width))
        {
            EchoInput = true,
        };
}

internal static class AnsiConsoleWidth
{
    public static IAnsiConsole WithWidth(this IAnsiConsole console, int width)
    {
        console.Profile.Width = width;
        return console;
    }
}
