using System.Diagnostics;
using System.Text.Json;

namespace Chat.Tests.Web;

/// <summary>
/// The web page's own unit tests (Vitest, Chat.Gateway/ClientApp/src/**/*.test.ts: markdown sanitising, NDJSON line
/// reading, relative times, the comparison's averages), run here so they count with the rest of the suite. The
/// gateway's build has installed the packages (npm ci) and generated the gRPC-Web client from chat.proto.
/// </summary>
public sealed class ClientAppUnitTests
{
    [Fact]
    public async Task Vitest_EveryTestOfTheWebPage_Passes()
    {
        var clientApp = Path.Combine(RepositoryRoot(), "Chat.Gateway", "ClientApp");
        var report = Path.Combine(Path.GetTempPath(), $"vitest-{Guid.NewGuid():N}.json");
        try
        {
            var (exitCode, output) = await RunAsync(clientApp, "npm", "test", "--silent", "--", "--reporter=json", $"--outputFile={report}");

            Assert.True(File.Exists(report), $"vitest wrote no report (exit {exitCode}):\n{output}");
            using var json = JsonDocument.Parse(await File.ReadAllTextAsync(report));
            var root = json.RootElement;
            var failed = root.GetProperty("testResults").EnumerateArray()
                .SelectMany(file => file.GetProperty("assertionResults").EnumerateArray())
                .Where(test => test.GetProperty("status").GetString() != "passed")
                .Select(test => $"{test.GetProperty("fullName").GetString()}: {string.Join(" ", test.GetProperty("failureMessages").EnumerateArray().Select(m => m.GetString()))}")
                .ToList();
            Assert.Empty(failed);
            Assert.True(root.GetProperty("numPassedTests").GetInt32() >= 20, $"only {root.GetProperty("numPassedTests").GetInt32()} tests ran");
            Assert.Equal(0, exitCode);
        }
        finally
        {
            File.Delete(report);
        }
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string directory, string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
            return (process.ExitCode, await stdout + await stderr);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Chat.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Chat.sln not found above the test assembly");
    }
}
