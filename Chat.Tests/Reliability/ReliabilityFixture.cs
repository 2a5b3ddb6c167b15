extern alias apphost;
using Chat.Contracts.Llm.V1;
using Chat.Hosting;
using Chat.Hosting.Testing;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Reliability;

/// <summary>
/// The whole graph of Chat.AppHost's Program.cs for the fault, bad-input and security tests: two sse replicas (one is
/// killed mid-reply), one llm replica (killed mid-reply: nobody else may pick the turn up), API keys on at the
/// gateway (carol's with a cap of two concurrent streams), an offline model paced so a reply lasts about two seconds,
/// and a short turn lock so a crashed turn's lock expires within the test.
/// </summary>
public sealed class ReliabilityFixture : IAsyncLifetime
{
    public const string AliceKey = "alice-key-7f3c2a9e41d8";
    public const string BobKey = "bob-key-0b6d5e8f92a1";
    public const string CarolKey = "carol-key-5a1e7c3d90b4";
    public const int CarolStreamCap = 2;

    public DistributedApplication App { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var appHost = await DistributedApplicationTestingBuilder.CreateAsync<apphost::Program>(
            ["--replicas", "llm=1,sse=2"],
            options =>
            {
                options.Configuration["Llm:Provider"] = "offline";
                options.Configuration["Llm:Offline:TimeToFirstTokenMs"] = "0";
                options.Configuration["Llm:Offline:InterTokenDelayMs"] = "40";
                options.Configuration["Llm:Offline:ReplyTokens"] = "50";
                options.Configuration["Llm:Sessions:TurnLockTimeout"] = "00:00:02";
                options.Configuration["Gateway:ApiKeys:alice:Key"] = AliceKey;
                options.Configuration["Gateway:ApiKeys:bob:Key"] = BobKey;
                options.Configuration["Gateway:ApiKeys:carol:Key"] = CarolKey;
                options.Configuration["Gateway:Limits:MaxConcurrentStreamsByPrincipal:carol"] = CarolStreamCap.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }).DefaultTimeout();
        App = await appHost.StartHealthyAsync(TimeSpan.FromSeconds(90));
    }

    public async Task DisposeAsync() => await App.DisposeAsync();

    /// <summary>The LLM service as the transports call it (with the internal credential).</summary>
    public LlmService.LlmServiceClient Llm(out IDisposable channel)
    {
        var grpcChannel = App.CreateGrpcChannel("llm-0");
        channel = grpcChannel;
        return new LlmService.LlmServiceClient(grpcChannel);
    }

    public HttpClient Gateway(string? apiKey)
    {
        var client = App.CreateHttpClient("gateway");
        if (apiKey is not null)
        {
            client.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        }

        return client;
    }

    /// <summary>Everything every replica has written to its console so far.</summary>
    public string AllConsoleLogs() => string.Join('\n', App.Resources.GetResources()
        .Select(r => r.Name).Distinct().Select(name => App.GetConsoleLog(name, 10_000)));
}

[CollectionDefinition(Name)]
public sealed class ReliabilityCollection : ICollectionFixture<ReliabilityFixture>
{
    public const string Name = "reliability";
}
