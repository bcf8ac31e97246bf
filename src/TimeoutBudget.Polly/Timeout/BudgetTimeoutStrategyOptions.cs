using System.ComponentModel.DataAnnotations;
using Polly;

namespace TimeoutBudget.Polly;

/// <summary>Settings of the budget timeout strategy added with <see cref="BudgetResiliencePipelineBuilderExtensions.AddBudgetTimeout{TBuilder}(TBuilder, BudgetTimeoutStrategyOptions)"/>.</summary>
public sealed class BudgetTimeoutStrategyOptions : ResilienceStrategyOptions
{
    /// <summary>Creates options with the default name <c>"BudgetTimeout"</c>.</summary>
    public BudgetTimeoutStrategyOptions() => Name = "BudgetTimeout";

    /// <summary>The layer each execution runs as, e.g. <c>"attempt"</c>; it appears in the path of the exception on expiry.</summary>
    [Required]
    public string Layer { get; set; } = "polly";

    /// <summary>
    /// What each execution asks for. Inside an ambient budget it is clamped to what that budget can still give (or, in
    /// <see cref="BudgetMode.Strict"/>, fails); <see cref="System.Threading.Timeout.InfiniteTimeSpan"/> takes whatever fits.
    /// </summary>
    [Range(typeof(TimeSpan), "-00:00:00.001", "365.00:00:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Settings for a root budget opened when no budget is current; by default <see cref="BudgetOptions.Default"/> on the pipeline's <see cref="TimeProvider"/>.</summary>
    public BudgetOptions? BudgetOptions { get; set; }
}
