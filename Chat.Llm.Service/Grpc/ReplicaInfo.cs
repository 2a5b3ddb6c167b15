namespace Chat.Llm.Service.Grpc;

/// <summary>This replica's identity (service.instance.id), as stats and session events report it.</summary>
public sealed record ReplicaInfo(string InstanceId);
