using System.Net;

namespace TimeoutBudget.Http;

/// <summary>
/// Runs each request in a child budget of the ambient one (or a root): the request is cancelled with that budget's
/// token, the time a downstream service may use is sent in the configured headers, and an expiry surfaces as a
/// <see cref="BudgetExhaustedException"/> naming the layer — ours, or the downstream one that answered 504.
/// </summary>
/// <remarks>
/// <para>The downstream service is treated as an inner layer of the request's budget: it is told the request's
/// <see cref="Budget.Available"/> time (what is left minus the margin), so its own 504 arrives before this request gives up.
/// A header already on the request with a shorter value (for example the <c>grpc-timeout</c> a gRPC client wrote from
/// its deadline) is kept; a longer one is replaced. Nothing here ever lengthens a timeout.</para>
/// <para>The budget covers the exchange up to the response headers; a streamed body read afterwards is bounded by the
/// caller's own token.</para>
/// </remarks>
public sealed class BudgetHandler : DelegatingHandler
{
    private static readonly BudgetHeaderKinds[] Kinds = [BudgetHeaderKinds.Budget, BudgetHeaderKinds.GrpcTimeout, BudgetHeaderKinds.Envoy];

    private readonly BudgetHttpClientOptions _options;

    /// <summary>Creates the handler.</summary>
    /// <param name="options">The settings; copied and validated.</param>
    /// <exception cref="ArgumentException">The layer name is invalid or the timeout negative.</exception>
    public BudgetHandler(BudgetHttpClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Validated();
    }

    /// <summary>Creates the handler around an inner one.</summary>
    /// <param name="options">The settings; copied and validated.</param>
    /// <param name="innerHandler">The handler that sends the request.</param>
    public BudgetHandler(BudgetHttpClientOptions options, HttpMessageHandler innerHandler)
        : this(options)
    {
        InnerHandler = innerHandler ?? throw new ArgumentNullException(nameof(innerHandler));
    }

    /// <inheritdoc />
    /// <exception cref="BudgetExhaustedException">The request's budget, an enclosing one, or the downstream service's ran out.</exception>
    /// <exception cref="BudgetCancelledException">The caller cancelled.</exception>
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var budget = Budget.Enter(_options.Layer, _options.Timeout, _options.RootOptions, cancellationToken);
        var bodyTakesBudget = false;
        try
        {
            var granted = budget.Available;
            WriteHeaders(request, granted);

            var response = await budget.RunAsync(token => base.SendAsync(request, token)).ConfigureAwait(false);
            if (_options.ThrowOnDownstreamExpiry && response.StatusCode == HttpStatusCode.GatewayTimeout &&
                response.Headers.TryGetValues(BudgetHeaders.Expired, out var values) &&
                LayerPath.SanitizeRemote(values.FirstOrDefault()) is { } downstream)
            {
                var elapsed = budget.Elapsed;
                response.Dispose();
                throw new BudgetExhaustedException(LayerPath.LastSegment(downstream), budget.Path + "/" + downstream, granted, elapsed,
                    $"The downstream layer '{downstream}' ran out of budget (504 from {request.RequestUri?.GetLeftPart(UriPartial.Path)}): " +
                    $"'{budget.Path}' gave it {DurationText.Format(granted)} and waited {DurationText.Format(elapsed)}.");
            }

            // The body is part of the exchange: a peer that sends the head and then drips the body is still this layer's problem.
            if (response.Content is { } content && content.Headers.ContentLength != 0 && request.Method != HttpMethod.Head)
            {
                response.Content = new BudgetedContent(content, budget);
                bodyTakesBudget = true;
            }

            return response;
        }
        finally
        {
            if (!bodyTakesBudget)
            {
                budget.Dispose();
            }
        }
    }

    private void WriteHeaders(HttpRequestMessage request, TimeSpan granted)
    {
        foreach (var kind in Kinds)
        {
            if (!_options.Headers.HasFlag(kind))
            {
                continue;
            }

            var existing = BudgetHeaders.ReadRemaining(request.Headers, kind);
            if (existing is { } shorter && shorter <= granted)
            {
                continue;
            }

            var name = BudgetHeaders.NameOf(kind);
            request.Headers.Remove(name);
            request.Headers.TryAddWithoutValidation(name, BudgetHeaders.Format(kind, granted));
        }
    }
}
