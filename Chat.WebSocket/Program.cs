using Chat.WebSocket.Sockets;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddWebSocketChatServices();

var app = builder.Build();

app.UseServedByHeader();
app.UseWebSockets();

app.MapDefaultEndpoints();
app.MapWebSocketChat();

app.Run();

public partial class Program;
