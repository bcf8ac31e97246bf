using Amazon.Runtime.Internal;

namespace TimeoutBudget.Aws;

/// <summary>
/// Binds every AWS SDK request to the ambient <see cref="Budget"/>: call <see cref="Register"/> once at startup, before
/// creating service clients. Requests made with no budget current are left exactly as they were.
/// </summary>
/// <remarks>
/// <para>With a budget current, the whole request (every attempt and every backoff) runs in a child budget named
/// <c>aws-</c> plus the operation (<c>orders/aws-SendMessage</c>), which takes whatever fits and is cancelled when the
/// budget ends; each attempt runs in a child of that named <c>attempt</c>, asking for <c>ClientConfig.Timeout</c> and
/// clamped to what remains.</para>
/// <para>A call that ends because a budget ran out throws <see cref="BudgetExhaustedException"/> naming the innermost
/// layer whose deadline passed (<c>…/aws-SendMessage/attempt</c> during an attempt, <c>…/aws-SendMessage</c> during the
/// SDK's backoff), whatever token the caller passed — including ASP.NET Core's <c>RequestAborted</c> behind
/// <c>UseTimeoutBudget</c>, which is the request budget's own token. The caller's own cancellation throws
/// <see cref="BudgetCancelledException"/>, never a timeout.</para>
/// </remarks>
public static class AwsBudget
{
    /// <summary>The name the customizer is registered under.</summary>
    public const string CustomizerName = "TimeoutBudget.Aws";

    private static readonly object Gate = new();
    private static bool _registered;

    /// <summary>Whether <see cref="Register"/> has been called (and not undone).</summary>
    public static bool IsRegistered
    {
        get
        {
            lock (Gate)
            {
                return _registered;
            }
        }
    }

    /// <summary>Registers the pipeline customizer with the SDK, once; later calls do nothing. Affects clients created afterwards.</summary>
    public static void Register()
    {
        lock (Gate)
        {
            if (_registered)
            {
                return;
            }

            RuntimePipelineCustomizerRegistry.Instance.Register(new BudgetPipelineCustomizer());
            _registered = true;
        }
    }

    /// <summary>Removes the customizer; clients created afterwards are no longer bound to budgets.</summary>
    public static void Deregister()
    {
        lock (Gate)
        {
            if (!_registered)
            {
                return;
            }

            RuntimePipelineCustomizerRegistry.Instance.Deregister(CustomizerName);
            _registered = false;
        }
    }

    /// <summary>The layer name of one SDK attempt: <c>aws-SendMessage</c> for a <c>SendMessageRequest</c>.</summary>
    /// <param name="requestName">The SDK request's type name.</param>
    /// <returns>The layer name.</returns>
    public static string LayerFor(string? requestName)
    {
        var name = string.IsNullOrWhiteSpace(requestName) ? "request" : requestName;
        if (name.EndsWith("Request", StringComparison.Ordinal) && name.Length > "Request".Length)
        {
            name = name[..^"Request".Length];
        }

        var clean = new string(name.Where(c => c != '/' && !char.IsControl(c)).Take(BudgetPlan.MaxLayerNameLength - 4).ToArray());
        return "aws-" + (clean.Length == 0 ? "request" : clean);
    }

    private sealed class BudgetPipelineCustomizer : IRuntimePipelineCustomizer
    {
        public string UniqueName => CustomizerName;

        public void Customize(Type type, RuntimePipeline pipeline)
        {
            if (pipeline.Handlers.Any(h => h is RetryHandler))
            {
                pipeline.AddHandlerBefore<RetryHandler>(new BudgetRequestHandler());
                pipeline.AddHandlerAfter<RetryHandler>(new BudgetAttemptHandler());
            }
            else
            {
                pipeline.AddHandler(new BudgetRequestHandler());
            }
        }
    }
}
