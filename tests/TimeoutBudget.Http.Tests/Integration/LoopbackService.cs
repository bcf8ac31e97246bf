using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace TimeoutBudget.Http.Tests.Integration;

/// <summary>A real Kestrel server on 127.0.0.1, on a port the OS picks.</summary>
internal sealed class LoopbackService : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly CancellationTokenSource _stopping;

    private LoopbackService(WebApplication app, CancellationTokenSource stopping, Uri address)
    {
        _app = app;
        _stopping = stopping;
        Address = address;
    }

    public Uri Address { get; }

    public IServiceProvider Services => _app.Services;

    /// <param name="services">Registers services.</param>
    /// <param name="configure">Builds the pipeline; the token is cancelled when the service is disposed, so handlers
    /// that ignore their budget still end with the test.</param>
    public static async Task<LoopbackService> StartAsync(Action<IServiceCollection>? services, Action<WebApplication, CancellationToken> configure)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        services?.Invoke(builder.Services);
        var app = builder.Build();
        var stopping = new CancellationTokenSource();
        configure(app, stopping.Token);
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new LoopbackService(app, stopping, new Uri(address + "/"));
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(stop.Token);
        await _app.DisposeAsync();
        _stopping.Dispose();
    }
}
