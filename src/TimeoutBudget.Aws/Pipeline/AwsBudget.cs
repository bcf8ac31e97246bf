using Amazon.Runtime.Internal;

namespace TimeoutBudget.Aws;

/// <summary>
/// Binds every AWS SDK request to the ambient <see cref="Budget"/>: call <see cref="Register"/> once at startup, before
/// creating service clients. Requests made with no budget current are left exactly as they were.
/// </summary>
/// <remarks>
/// With a budget current, the whole request (attempts and backoffs) is cancelled when the budget ends, each attempt runs
/// in a child budget named <c>aws-</c> plus the operation (asking for <c>ClientConfig.Timeout</c>, clamped to what
/// remains), and a timeout surfaces as <see cref="BudgetExhaustedException"/> naming the layer that ran out.
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
