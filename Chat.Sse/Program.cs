using Chat.Sse.Apis;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddSseServices();

var app = builder.Build();

app.UseChatTransport();
app.MapChatTransportEndpoints();
app.MapSseChatApi();

app.Run();
