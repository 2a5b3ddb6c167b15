using Chat.Contracts.Llm.V1;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Chat.Tests.Infrastructure;
using StackExchange.Redis;

// Not Chat.Tests.System: that namespace would shadow System for every Chat.Tests.* file.
namespace Chat.Tests.SystemTests;

/// <summary>The three ways the AppHost gets a Redis: an external server, redis-server, Garnet.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisChoiceTests(RedisFixture redis)
{
    [Fact]
    public async Task ExternalRedis_FromConnectionString_IsUsedAndNothingIsStarted()
    {
        await using var appHost = SmallGraph(("ConnectionStrings:redis", redis.ConnectionString), ("Llm:Provider", "offline"));
        var store = appHost.AddChatRedis("redis");
        appHost.AddProject<Projects.Chat_Llm_Service>("llm", launchProfileName: null)
            .WithHttpEndpoint(name: "http", isProxied: false).AsHttp2Service().WithHttp2HealthCheck("/health")
            .WithInternalApiKey(appHost.AddInternalApiKey())
            .WithReference(store).WaitFor(store);
        await using var app = await appHost.BuildAsync().DefaultTimeout();
        await app.StartAsync().DefaultTimeout();
        await app.ResourceNotifications.WaitForResourceHealthyAsync("llm").WaitAsync(TimeSpan.FromSeconds(60));

        Assert.IsNotType<RedisServerResource>(store.Resource);
        Assert.DoesNotContain(app.ProcessResources(), r => r.Name == "redis");
        Assert.Equal(redis.ConnectionString, app.GetResourceSnapshots("llm").Single().Environment["ConnectionStrings__redis"]);

        await using var connection = await redis.Server.ConnectAsync().DefaultTimeout();
        var keysBefore = await CountKeysAsync(connection);
        using var channel = await app.CreateGrpcChannelAsync("llm");
        var session = await new LlmService.LlmServiceClient(channel).CreateSessionAsync(new CreateSessionRequest()).ResponseAsync.DefaultTimeout();
        Assert.False(string.IsNullOrEmpty(session.Id));
        Assert.True(await CountKeysAsync(connection) > keysBefore, "the session was not written to the external Redis");
    }

    [Fact]
    public async Task RedisServer_WhenInstalled_IsStartedAndKeepsDataAcrossRuns()
    {
        Assert.NotNull(RedisServer.FindExecutable());
        var dataDirectory = Directory.CreateTempSubdirectory("chat-apphost-redis-").FullName;
        try
        {
            await using (var first = await StartRedisOnlyAsync("auto", dataDirectory))
            {
                var server = first.GetResourceSnapshots("redis").Single();
                Assert.Contains("redis-server", CommandLineOf(server.ProcessId!.Value), StringComparison.Ordinal);
                Assert.Equal(dataDirectory, new DirectoryInfo($"/proc/{server.ProcessId}/cwd").LinkTarget);
                await using var connection = await ConnectionMultiplexer.ConnectAsync((await first.GetConnectionStringAsync("redis"))!).DefaultTimeout();
                Assert.True(await connection.GetDatabase().StringSetAsync("apphost:probe", "kept").DefaultTimeout());
            }

            await using var second = await StartRedisOnlyAsync("auto", dataDirectory);
            await using var again = await ConnectionMultiplexer.ConnectAsync((await second.GetConnectionStringAsync("redis"))!).DefaultTimeout();
            Assert.Equal("kept", (string?)await again.GetDatabase().StringGetAsync("apphost:probe").DefaultTimeout());
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task Garnet_StartedAsTheAppHostDoes_ServesSessionStoreCommandsAndKeepsThem()
    {
        var dataDirectory = Directory.CreateTempSubdirectory("chat-apphost-garnet-").FullName;
        try
        {
            await using (var app = await StartRedisOnlyAsync("garnet", dataDirectory))
            {
                await RunSessionStoreSequenceAsync(app);
            }

            // Checkpoint directory + append-only log, replayed by --recover.
            await using var again = await StartRedisOnlyAsync("garnet", dataDirectory);
            await using var connection = await ConnectionMultiplexer.ConnectAsync((await again.GetConnectionStringAsync("redis"))!).DefaultTimeout();
            Assert.Equal(3, (int)await connection.GetDatabase().HashGetAsync("session:s1", "message_count").DefaultTimeout());
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    private static async Task RunSessionStoreSequenceAsync(DistributedApplication app)
    {
        var server = app.GetResourceSnapshots("redis").Single();
        Assert.Contains("GarnetServer.dll", CommandLineOf(server.ProcessId!.Value), StringComparison.Ordinal);

        await using var connection = await ConnectionMultiplexer.ConnectAsync((await app.GetConnectionStringAsync("redis"))!).DefaultTimeout();
        var db = connection.GetDatabase();

        // What a session store does: a hash per session, a list of messages, an index by time, expiry, an atomic
        // append (MULTI/EXEC), a Lua script, and pub/sub for fan-out.
        await db.HashSetAsync("session:s1", [new("id", "s1"), new("model", "offline"), new("message_count", 0)]).DefaultTimeout();
        var transaction = db.CreateTransaction();
        transaction.AddCondition(Condition.KeyExists("session:s1"));
        _ = transaction.ListRightPushAsync("session:s1:messages", ["{\"role\":\"user\",\"text\":\"hi\"}", "{\"role\":\"model\",\"text\":\"hello\"}"]);
        _ = transaction.HashIncrementAsync("session:s1", "message_count", 2);
        _ = transaction.SortedSetAddAsync("sessions:by-updated", "s1", 1700000000);
        Assert.True(await transaction.ExecuteAsync().DefaultTimeout());
        Assert.True(await db.KeyExpireAsync("session:s1", TimeSpan.FromHours(1)).DefaultTimeout());

        Assert.Equal(2, (int)await db.HashGetAsync("session:s1", "message_count").DefaultTimeout());
        Assert.Equal(2, (await db.ListRangeAsync("session:s1:messages").DefaultTimeout()).Length);
        Assert.Equal("s1", (string?)(await db.SortedSetRangeByRankAsync("sessions:by-updated", order: Order.Descending).DefaultTimeout()).Single());
        Assert.InRange((await db.KeyTimeToLiveAsync("session:s1").DefaultTimeout())!.Value, TimeSpan.FromMinutes(59), TimeSpan.FromHours(1));
        var appended = await db.ScriptEvaluateAsync(
            "redis.call('RPUSH', KEYS[1], ARGV[1]); return redis.call('HINCRBY', KEYS[2], 'message_count', 1)",
            ["session:s1:messages", "session:s1"], ["{\"role\":\"user\",\"text\":\"again\"}"]).DefaultTimeout();
        Assert.Equal(3, (int)appended);

        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var subscriber = connection.GetSubscriber();
        await subscriber.SubscribeAsync(RedisChannel.Literal("session:s1:events"), (_, message) => received.TrySetResult(message!)).DefaultTimeout();
        Assert.Equal(1, await subscriber.PublishAsync(RedisChannel.Literal("session:s1:events"), "typing").DefaultTimeout());
        Assert.Equal("typing", await received.Task.DefaultTimeout());
    }

    /// <summary>A graph of the test's own, with Chat.AppHost's extensions and DCP (the AppHost assembly carries its path).</summary>
    private static IDistributedApplicationTestingBuilder SmallGraph(params (string Key, string? Value)[] settings) =>
        DistributedApplicationTestingBuilder.Create(
            settings.Where(s => s.Value is not null).Select(s => $"--{s.Key}={s.Value}").ToArray()).WithResourceStates();

    private static async Task<DistributedApplication> StartRedisOnlyAsync(string server, string dataDirectory)
    {
        var appHost = SmallGraph(("Redis:Server", server), ("Redis:DataDirectory", dataDirectory));
        appHost.AddChatRedis("redis");
        var app = await appHost.BuildAsync().DefaultTimeout();
        try
        {
            await app.StartAsync().DefaultTimeout();
            await app.ResourceNotifications.WaitForResourceHealthyAsync("redis").WaitAsync(TimeSpan.FromSeconds(60));
            return app;
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    private static async Task<long> CountKeysAsync(IConnectionMultiplexer connection)
    {
        var endpoint = connection.GetEndPoints().Single();
        return await connection.GetServer(endpoint).DatabaseSizeAsync().DefaultTimeout();
    }

    internal static string CommandLineOf(int processId) =>
        File.ReadAllText($"/proc/{processId}/cmdline").Replace('\0', ' ');
}
