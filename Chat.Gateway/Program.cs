using Chat.Gateway.Apis;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddGatewayServices();

var app = builder.Build();

app.UseServedByHeader();
app.UseGatewayAuthentication();

app.MapDefaultEndpoints();
app.MapGatewayIndex();
app.MapReverseProxy();

app.Run();
