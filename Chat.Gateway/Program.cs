using Chat.Gateway.Apis;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddGatewayServices();

var app = builder.Build();

app.UseServedByHeader();
app.UseCors();
app.UseGatewayAuthentication();

app.MapDefaultEndpoints();
app.MapGatewayIndex();
app.MapWebChatPage();
app.MapGatewayProxy();

app.Run();
