namespace Chat.Hosting;

/// <summary>
/// Lets DistributedApplicationTestingBuilder run the AppHost's own Program.cs (so tests exercise the real graph) while
/// changing its options before the builder exists and taking the builder when Program.cs calls Build(), as
/// Aspire.Hosting.Testing does. Flows with the ExecutionContext, so parallel tests do not see each other's hook.
/// </summary>
internal sealed class DistributedApplicationTestingHook(
    Action<DistributedApplicationOptions> configure,
    TaskCompletionSource<DistributedApplicationBuilder> built)
{
    private static readonly AsyncLocal<DistributedApplicationTestingHook?> s_current = new();

    public static DistributedApplicationTestingHook? Current
    {
        get => s_current.Value;
        set => s_current.Value = value;
    }

    public void OnCreatingBuilder(DistributedApplicationOptions options) => configure(options);

    public void OnBuilding(DistributedApplicationBuilder builder)
    {
        built.TrySetResult(builder);
        // Unwinds the entry point: the test now owns the builder and builds it itself.
        throw new EntryPointStoppedException();
    }

    internal sealed class EntryPointStoppedException() : Exception("The testing builder took over the application builder.");
}
