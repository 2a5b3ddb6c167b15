using Chat.Hosting;
using Chat.Hosting.Publishing;

// The application graph. `dotnet run --project Chat.AppHost` builds every service once and starts them from their
// build output; `-- --replicas sse=3,websocket=2` scales; docs/apphost.md has the rest.
// `-- publish --target kubernetes --output deploy/k8s` writes this graph as Kubernetes manifests (docs/kubernetes.md).
var builder = DistributedApplication.CreateBuilder(args);

var redis = builder.AddRedis("redis");

// Only the transports may call the LLM service: one key per run (or Llm:InternalApiKey), docs/reliability.md.
var internalApiKey = builder.InternalApiKey();

var llm = builder.AddProject<Projects.Chat_Llm_Service>("llm")
    .AsHttp2Service()
    .WithHttpHealthCheck("/health")
    .WithEnvironment(builder.Configuration.GetSection("Llm"))
    .WithSecretEnvironment("GEMINI_API_KEY")
    .WithInternalApiKey(internalApiKey)
    .WithReference(redis)
    .WaitFor(redis);

// Transport:* (StreamWriteTimeout, TurnTimeout…) of the AppHost's configuration reaches every transport.
var transportSettings = builder.Configuration.GetSection("Transport");

var rest = builder.AddProject<Projects.Chat_Rest>("rest")
    .WithHttpHealthCheck("/health")
    .WithReference(llm)
    .WithInternalApiKey(internalApiKey)
    .WithEnvironment(transportSettings);

var streaming = builder.AddProject<Projects.Chat_Streaming>("streaming")
    .WithHttpHealthCheck("/health")
    .WithReference(llm)
    .WithInternalApiKey(internalApiKey)
    .WithEnvironment(transportSettings);

var sse = builder.AddProject<Projects.Chat_Sse>("sse")
    .WithHttpHealthCheck("/health")
    .WithReference(llm)
    .WithInternalApiKey(internalApiKey)
    .WithEnvironment(transportSettings)
    .WithReplicas(2);

var websocket = builder.AddProject<Projects.Chat_WebSocket>("websocket")
    .WithHttpHealthCheck("/health")
    .WithReference(llm)
    .WithInternalApiKey(internalApiKey)
    .WithEnvironment(transportSettings);

var grpc = builder.AddProject<Projects.Chat_Grpc>("grpc")
    .AsHttp2Service()
    .WithHttpHealthCheck("/health")
    .WithReference(llm)
    .WithInternalApiKey(internalApiKey)
    .WithEnvironment(transportSettings);

// The one public entry: HTTP/1.1 (REST, NDJSON, SSE, WebSocket, gRPC-Web, web page) and h2c (native gRPC).
builder.AddProject<Projects.Chat_Gateway>("gateway")
    .WithHttpEndpoint(port: builder.Configuration.GetValue("Gateway:HttpPort", 8000), name: "http")
    .WithHttp2Endpoint(port: builder.Configuration.GetValue("Gateway:Http2Port", 50051), name: "http2", env: "GATEWAY_HTTP2_URL")
    .WithExternalHttpEndpoints()
    .WithSecretEnvironment(builder.Configuration.GetSection("Gateway:ApiKeys"))
    .WithEnvironment(builder.Configuration.GetSection("Gateway:Limits"))
    .WithHttpHealthCheck("/health")
    .WithReference(rest)
    .WithReference(streaming)
    .WithReference(sse)
    .WithReference(websocket)
    .WithReference(grpc);

builder.AddDashboard();

builder.Build().Run();

/// <summary>The entry point DistributedApplicationTestingBuilder runs.</summary>
public partial class Program;
