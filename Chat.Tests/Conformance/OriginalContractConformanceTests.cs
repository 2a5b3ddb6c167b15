using System.Diagnostics;
using System.Text;
using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Chat.Tests.SystemTests;
using Chat.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Chat.Tests.Conformance;

/// <summary>
/// The original project's contracts checked from another stack: Python scripts beside this file, run against the
/// gateway of the whole graph. conformance_grpc.py generates a client from the original chat.proto with Debian's
/// grpcio and calls every RPC (native gRPC and gRPC-Web); conformance_json.py checks the JSON of REST, NDJSON, SSE
/// and WebSocket against the original's keys and value types. Each script exits 0 only when every check passed; its
/// output is the failure message. docs/contracts.md.
/// </summary>
[Collection(AppHostCollection.Name)]
public sealed class OriginalContractConformanceTests(AppHostFixture fixture, ITestOutputHelper output) : GraphTest(fixture.App, output)
{
    // Debian's interpreter: the packages below are installed for it (a pyenv python3 first on PATH lacks them).
    private const string DebianPython = "/usr/bin/python3";
    private const string Prerequisites = "python3-grpcio python3-grpc-tools python3-websocket";

    // Generous for a busy 2-core box: each script takes a few seconds on a quiet one.
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromMinutes(3);

    private readonly DistributedApplication _app = fixture.App;

    [Fact]
    public async Task AClientGeneratedFromTheOriginalChatProto_DecodesEveryRpcThroughTheGateway()
    {
        var scratch = Directory.CreateTempSubdirectory("chat-conformance-");
        try
        {
            await RunScriptAsync("conformance_grpc.py",
                "--http", HttpBase(),
                "--grpc", _app.GetEndpoint("gateway", "http2").Authority,
                "--out", scratch.FullName);
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task TheJsonTransports_SendTheOriginalsKeysAndValueTypes()
    {
        await RunScriptAsync("conformance_json.py", "--http", HttpBase());
    }

    private string HttpBase() => _app.GetEndpoint("gateway", "http").ToString().TrimEnd('/');

    private async Task RunScriptAsync(string script, params string[] arguments)
    {
        var python = File.Exists(DebianPython) ? DebianPython : "python3";
        await RequirePrerequisitesAsync(python);

        var start = new ProcessStartInfo(python)
        {
            WorkingDirectory = ScriptsDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-u");
        start.ArgumentList.Add(Path.Combine(ScriptsDirectory, script));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        var (exitCode, text) = await RunAsync(start, ScriptTimeout);
        Output.WriteLine(text);
        Assert.True(exitCode == 0, $"{script} exited with {exitCode}:\n{text}");
    }

    /// <summary>A missing package is named, with the command that installs it, rather than left to an ImportError.</summary>
    private static async Task RequirePrerequisitesAsync(string python)
    {
        var probe = new ProcessStartInfo(python, ["-c", "import grpc, grpc_tools, websocket"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        int exitCode;
        string text;
        try
        {
            (exitCode, text) = await RunAsync(probe, TimeSpan.FromSeconds(60));
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            (exitCode, text) = (-1, exception.Message);
        }

        Assert.True(exitCode == 0,
            $"The conformance suite needs {python} with Debian's {Prerequisites} " +
            $"(`apt-get install -y {Prerequisites}`; ./build.sh installs them). {python} says: {text.Trim()}");
    }

    /// <summary>Runs to the end or kills the process tree at the timeout: no interpreter outlives the test.</summary>
    private static async Task<(int ExitCode, string Output)> RunAsync(ProcessStartInfo start, TimeSpan timeout)
    {
        var text = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, line) => { if (line.Data is not null) { lock (text) { text.AppendLine(line.Data); } } };
        process.ErrorDataReceived += (_, line) => { if (line.Data is not null) { lock (text) { text.AppendLine(line.Data); } } };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            lock (text)
            {
                return (-1, $"{text}\n(killed after {timeout.TotalSeconds:0} s)");
            }
        }

        // The exit is seen before the last redirected lines: WaitForExit() without a timeout drains them.
        process.WaitForExit();
        lock (text)
        {
            return (process.ExitCode, text.ToString());
        }
    }

    private static string ScriptsDirectory { get; } = Path.Combine(AppContext.BaseDirectory, "Conformance");
}
