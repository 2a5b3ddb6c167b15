using BenchmarkDotNet.Running;
using Chat.Bench;

// Chat.Bench: the chain benchmark (docs/performance.md), or `micro` for the BenchmarkDotNet formatter benchmarks.
if (args is ["micro", .. var benchmarkArgs])
{
    BenchmarkSwitcher.FromAssembly(typeof(BenchCommand).Assembly).Run(benchmarkArgs);
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
return await BenchCommand.RunAsync(options, stop.Token);
