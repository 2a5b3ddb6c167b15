using Chat.Streaming.Apis;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddStreamingServices();

var app = builder.Build();

app.UseChatTransport();
app.MapChatTransportEndpoints();
app.MapNdjsonChatApi();

app.Run();
