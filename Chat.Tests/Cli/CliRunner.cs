using System.Net;
using System.Net.Sockets;
using System.Text;
using Chat.Cli.Commands;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Cli;

/// <summary>
/// Runs the real <c>chat</c> command line in-process (the same <see cref="CliApplication"/> Program.cs runs), with
/// stdin from a string and stdout/stderr captured as a user would see them (no colours, no animation).
/// </summary>
public sealed class CliRunner
{
    public LockedStringWriter Out { get; } = new();

    public LockedStringWriter Error { get; } = new();

    public CliIo? Io { get; private set; }

    public static Task<CliResult> RunAsync(string input, params string[] args) => new CliRunner().StartAsync(input, args);

    public async Task<CliResult> StartAsync(string input, params string[] args)
    {
        Io = CliIo.Plain(new StringReader(input), Out, Error);
        var exitCode = await CliApplication.RunAsync(args, Io, Infrastructure.TaskExtensions.DefaultTimeoutToken()).DefaultTimeout();
        return new CliResult(exitCode, Out.ToString(), Error.ToString());
    }

    /// <summary>Presses Ctrl+C once <paramref name="text"/> has appeared on stdout (what a user would wait for).</summary>
    public async Task<bool> InterruptWhenAsync(string text, TimeSpan? after = null)
    {
        while (!Out.ToString().Contains(text, StringComparison.Ordinal))
        {
            if (Error.ToString().Length > 0)
            {
                throw new InvalidOperationException($"The CLI failed before '{text}': {Error}");
            }

            await Task.Delay(10);
        }

        await Task.Delay(after ?? TimeSpan.Zero);
        return Io?.OnInterrupt?.Invoke() ?? false;
    }

    /// <summary>Gateway and gRPC arguments for a server.</summary>
    public static string[] Endpoints(ScriptedChatServer server) => ["--url", server.HttpUrl.ToString(), "--grpc-url", server.GrpcUrl.ToString()];

    /// <summary>A loopback address where nothing listens (a port just released).</summary>
    public static string UnusedUrl()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return $"http://127.0.0.1:{port}";
    }
}

public sealed record CliResult(int ExitCode, string Out, string Error);

/// <summary>A StringWriter safe to read while the CLI writes from another thread.</summary>
public sealed class LockedStringWriter : TextWriter
{
    private readonly StringBuilder _text = new();

    public override Encoding Encoding => Encoding.UTF8;

    public override void Write(char value)
    {
        lock (_text)
        {
            _text.Append(value);
        }
    }

    public override void Write(string? value)
    {
        lock (_text)
        {
            _text.Append(value);
        }
    }

    public override void Write(char[] buffer, int index, int count)
    {
        lock (_text)
        {
            _text.Append(buffer, index, count);
        }
    }

    public override string ToString()
    {
        lock (_text)
        {
            return _text.ToString();
        }
    }
}
