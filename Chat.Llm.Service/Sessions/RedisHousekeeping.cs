using StackExchange.Redis;

namespace Chat.Llm.Service.Sessions;

/// <summary>
/// A second connection to Redis for the replica's housekeeping: the resume buffers' batches and the turn locks'
/// renewals, written on shared ticks for every running turn at once. Kept apart from the connection the turns use
/// (session reads, BeginTurn, CompleteTurn) so that a tick's burst of a few hundred writes never queues in front of a
/// turn waiting to start, and untraced: these writes belong to no request (a span per command of every batch was most
/// of the service's telemetry; docs/performance.md, run 4). Same configuration as the main connection.
/// </summary>
public sealed class RedisHousekeeping(IConfiguration configuration) : IDisposable
{
    private readonly Lazy<ConnectionMultiplexer> _connection = new(() =>
    {
        var options = ConfigurationOptions.Parse(configuration.GetConnectionString("redis")
            ?? throw new InvalidOperationException("ConnectionStrings:redis is not set (ConnectionStrings__redis)."));
        // Start even while Redis is down, as the main connection does; writes fail until it is back.
        options.AbortOnConnectFail = false;
        options.ClientName = "llm-housekeeping";
        return ConnectionMultiplexer.Connect(options);
    });

    public IConnectionMultiplexer Connection => _connection.Value;

    public void Dispose()
    {
        if (_connection.IsValueCreated)
        {
            _connection.Value.Dispose();
        }
    }
}
