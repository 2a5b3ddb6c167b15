using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Chat.Bench;

// Chat.Bench: the chain benchmark (docs/performance.md), or `micro` for the BenchmarkDotNet formatter benchmarks.
if (args is ["micro", .. var benchmarkArgs])
{
    // In-process: no generated project to build, which on a shared 2-core box costs minutes.
    var config = DefaultConfig.Instance.AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance));
    BenchmarkSwitcher.FromAssembly(typeof(BenchCommand).Assembly).Run(benchmarkArgs, config);
    return 0;
}

if (args is ["--help" or "-h", ..])
{
    Console.WriteLine(BenchOptions.Usage);
    return 0;
}

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (Exception e) when (e is ArgumentException or FormatException)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine(BenchOptions.Usage);
    return 64;
}

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
// SIGTERM (kill, CI timeouts) stops the run the same way, so the graph it started is stopped with it.
using var terminate = System.Runtime.InteropServices.PosixSignalRegistration.Create(
    System.Runtime.InteropServices.PosixSignal.SIGTERM, context => { context.Cancel = true; stop.Cancel(); });
try
{
    return await BenchCommand.RunAsync(options, stop.Token);
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
    Console.Error.WriteLine("Chat.Bench: stopped; the system it started has been stopped too.");
    return 130;
}
