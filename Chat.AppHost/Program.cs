// The application graph, in .NET Aspire's API. `dotnet run --project Chat.AppHost` starts it on DCP with the Aspire
// dashboard; `-- --replicas sse=3,websocket=2` scales a service; docs/apphost.md has the rest.
// `-- publish --target kubernetes --output deploy/k8s` writes it as deployment files instead (docs/kubernetes.md).
var builder = DistributedApplication.CreateBuilder(PublishCommand.Translate(args));

// redis-server (or Garnet) as a local process when run, Aspire's Redis container when published.
var redis = builder.AddChatRedis("redis").WithRestartOnCrash();

// Only the transports may call the LLM service (docs/reliability.md).
var internalApiKey = builder.AddInternalApiKey();

var llm = builder.AddProjectReplicas<Projects.Chat_Llm_Service>("llm", replicas: 1, llm => llm
    .AsHttp2Service()
    .WithHttp2HealthCheck("/health")
    .WithEnvironment(builder.Configuration.GetSection("Llm"))
    .WithSecretEnvironment("GEMINI_API_KEY")
    .WithInternalApiKey(internalApiKey)
    .WithReference(redis)
    .WaitFor(redis)
    .WithRuntimeTuning()
    .WithRestartOnCrash());

// One wire protocol each, stateless, scaled on its own. Transport:* (StreamWriteTimeout, TurnTimeout…) reaches all.
// The HTTP transports also listen for the gateway on an h2c port (its streams multiplexed on a few connections).
ProjectReplicas Transport<TProject>(string name, int replicas, bool http2 = false, bool h2c = false) where TProject : IProjectMetadata, new() =>
    builder.AddProjectReplicas<TProject>(name, replicas, transport => (http2
            ? transport.AsHttp2Service().WithHttp2HealthCheck("/health")
            : h2c ? transport.WithHttpHealthCheck("/health").WithH2cEndpoint() : transport.WithHttpHealthCheck("/health"))
        .WithReference(llm)
        .WithInternalApiKey(internalApiKey)
        .WithEnvironment(builder.Configuration.GetSection("Transport"))
        .WithRuntimeTuning()
        .WithRestartOnCrash());

var rest = Transport<Projects.Chat_Rest>("rest", replicas: 1, h2c: true);
var streaming = Transport<Projects.Chat_Streaming>("streaming", replicas: 1, h2c: true);
var sse = Transport<Projects.Chat_Sse>("sse", replicas: 2, h2c: true);
var websocket = Transport<Projects.Chat_WebSocket>("websocket", replicas: 1, h2c: true);
var grpc = Transport<Projects.Chat_Grpc>("grpc", replicas: 1, http2: true);

// The one public entry, on its own sockets: HTTP/1.1 (REST, NDJSON, SSE, WebSocket, gRPC-Web, web page) and h2c
// (native gRPC). It balances every new stream across the healthy replicas of each transport itself.
builder.AddGateway<Projects.Chat_Gateway>("gateway")
    .WithSecretEnvironment(builder.Configuration.GetSection("Gateway:ApiKeys"))
    .WithEnvironment(builder.Configuration.GetSection("Gateway:Limits"))
    .WithReference(rest)
    .WithReference(streaming)
    .WithReference(sse)
    .WithReference(websocket)
    .WithReference(grpc)
    .WithRuntimeTuning(largeGen0Budget: false)
    .WithRestartOnCrash()
    .WithStartupSummary(http2EndpointName: GatewayExtensions.Http2EndpointName);

builder.ValidateReplicaNames(llm, rest, streaming, sse, websocket, grpc);
builder.AddChatPublishing();
builder.Build().Run();
