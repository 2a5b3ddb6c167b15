using Chat.WebSocket.Sockets;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddWebSocketChatServices();

var app = builder.Build();

app.UseChatTransport();
app.UseWebSockets();

app.MapChatTransportEndpoints();
app.MapWebSocketChat();

app.Run();

public partial class Program;
