using Chat.Rest.Apis;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddRestServices();

var app = builder.Build();

app.UseChatTransport();
app.MapChatTransportEndpoints();
app.MapRestChatApi();

app.Run();
