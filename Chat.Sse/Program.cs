var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();

var app = builder.Build();

app.UseServedByHeader();
app.MapDefaultEndpoints();

app.Run();
