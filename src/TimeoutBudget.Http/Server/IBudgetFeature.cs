using Microsoft.AspNetCore.Http;

namespace TimeoutBudget.Http;

/// <summary>The request's root budget, set by <see cref="BudgetMiddleware"/> as an HTTP feature.</summary>
public interface IBudgetFeature
{
    /// <summary>The request's root budget.</summary>
    Budget Budget { get; }
}

/// <summary>Reads the request's budget.</summary>
public static class BudgetHttpContextExtensions
{
    /// <summary>The root budget <see cref="BudgetMiddleware"/> opened for this request, or null when it did not run.</summary>
    /// <param name="context">The request.</param>
    /// <returns>The budget or null.</returns>
    public static Budget? GetTimeoutBudget(this HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Features.Get<IBudgetFeature>()?.Budget;
    }
}

internal sealed class BudgetFeature(Budget budget) : IBudgetFeature
{
    public Budget Budget { get; } = budget;
}
