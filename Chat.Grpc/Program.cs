var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddGrpcChatServices();

var app = builder.Build();

app.UseServedByHeader();
app.UseGrpcWeb();

app.MapDefaultEndpoints();
app.MapGrpcChat();

app.Run();

public partial class Program;
