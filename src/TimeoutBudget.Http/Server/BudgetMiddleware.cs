using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace TimeoutBudget.Http;

/// <summary>
/// Opens each request's root budget from the incoming deadline headers, capped by our own maximum (callers can only
/// shorten it), linked to <see cref="HttpContext.RequestAborted"/>. While the request runs, the budget is
/// <see cref="Budget.Current"/> and <see cref="HttpContext.RequestAborted"/> is its token. A request that arrives already
/// expired is rejected before any work; one whose budget runs out before the response starts gets a 504 whose
/// <see cref="BudgetHeaders.Expired"/> header names the layer that ran out.
/// </summary>
/// <remarks>
/// Works alongside ASP.NET Core's request-timeouts middleware in either order: when that middleware's own timeout fires
/// first, this one reports the cancellation as the caller's and lets it produce its response; when this budget runs out
/// first, that middleware sees its incoming token cancelled and leaves the response to this one.
/// </remarks>
public sealed partial class BudgetMiddleware
{
    private readonly RequestDelegate _next;
    private readonly BudgetServerOptions _options;
    private readonly ILogger _logger;

    /// <summary>Creates the middleware.</summary>
    /// <param name="next">The rest of the pipeline.</param>
    /// <param name="options">The settings; copied and validated.</param>
    /// <param name="logger">Where rejections and expiries are logged.</param>
    /// <exception cref="ArgumentException">The settings are invalid.</exception>
    public BudgetMiddleware(RequestDelegate next, BudgetServerOptions options, ILogger<BudgetMiddleware> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _next = next ?? throw new ArgumentNullException(nameof(next));
        _options = options.Validated();
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
    }

    /// <summary>Runs the request under its budget.</summary>
    /// <param name="context">The request.</param>
    /// <returns>A task that completes with the request.</returns>
    public async Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var announced = BudgetHeaders.ReadRemaining(context.Request.Headers, _options.Headers);
        var aborted = context.RequestAborted;
        using var budget = Budget.FromRemaining(_options.Layer, announced, _options.Maximum, _options.BudgetOptions, aborted);
        if (budget.IsExpired)
        {
            LogRejected(_logger, budget.Path, context.Request.Path);
            await WriteExpiredAsync(context, budget.Path,
                $"The '{budget.Layer}' budget ({budget.Path}) had already run out when the request arrived: the caller announced {DurationText.Format(announced ?? TimeSpan.Zero)}.").ConfigureAwait(false);
            return;
        }

        var previousFeature = context.Features.Get<IBudgetFeature>();
        context.Features.Set<IBudgetFeature>(new BudgetFeature(budget));
        context.RequestAborted = budget.Token;
        try
        {
            await _next(context).ConfigureAwait(false);
        }
        catch (Exception exception) when (!context.Response.HasStarted && budget.AsExpiry(exception) is { } expired)
        {
            LogExpired(_logger, expired.Path, context.Request.Path, budget.Elapsed.TotalMilliseconds);
            context.Response.Clear();
            await WriteExpiredAsync(context, expired.Path, expired.Message).ConfigureAwait(false);
        }
        finally
        {
            context.RequestAborted = aborted;
            context.Features.Set(previousFeature);
        }
    }


    private Task WriteExpiredAsync(HttpContext context, string path, string message)
    {
        context.Response.StatusCode = _options.ExpiredStatusCode;
        context.Response.Headers[BudgetHeaders.Expired] = path;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(message, CancellationToken.None);
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Rejected {RequestPath}: the '{BudgetPath}' budget had already run out on arrival.")]
    private static partial void LogRejected(ILogger logger, string budgetPath, PathString requestPath);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "The '{BudgetPath}' budget ran out while serving {RequestPath} after {ElapsedMs} ms; responding 504.")]
    private static partial void LogExpired(ILogger logger, string budgetPath, PathString requestPath, double elapsedMs);
}
