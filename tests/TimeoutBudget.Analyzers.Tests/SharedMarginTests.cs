using System.Reflection;

namespace TimeoutBudget.Analyzers.Tests;

/// <summary>
/// The analyzer compiles the library's <c>BudgetMargin</c> for netstandard2.0, where the 64 × 64-bit multiplication behind a
/// margin is done by hand from 32-bit halves. This project references both builds of the type (same name, two assemblies),
/// so they are reached by reflection.
/// </summary>
public sealed class SharedMarginTests
{
    private static readonly Type AnalyzerMargin =
        typeof(TimeoutAnalyzer).Assembly.GetType("TimeoutBudget.BudgetMargin", throwOnError: true)!;

    private static readonly Type LibraryMargin =
        typeof(TimeoutBudget.Budget).Assembly.GetType("TimeoutBudget.BudgetMargin", throwOnError: true)!;

    [Fact]
    public void The_multiplication_by_hand_gives_the_high_half_of_the_full_product()
    {
        var multiplyHigh = AnalyzerMargin.GetMethod("MultiplyHigh", BindingFlags.NonPublic | BindingFlags.Static)!;
        ulong[] edges = [0, 1, 2, uint.MaxValue - 1, uint.MaxValue, (ulong)uint.MaxValue + 1, (ulong)uint.MaxValue + 2,
            1UL << 63, ulong.MaxValue - 1, ulong.MaxValue, 0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210];
        var pairs = edges.SelectMany(left => edges.Select(right => (left, right))).ToList();
        var random = new Random(15);
        var bytes = new byte[16];
        for (var i = 0; i < 2_000; i++)
        {
            random.NextBytes(bytes);
            pairs.Add((BitConverter.ToUInt64(bytes, 0), BitConverter.ToUInt64(bytes, 8)));
        }

        foreach (var (left, right) in pairs)
        {
            Assert.Equal(Math.BigMul(left, right, out _), (ulong)multiplyHigh.Invoke(null, [left, right])!);
        }
    }

    [Theory]
    [InlineData(0.05, 6_000_000_000L)]
    [InlineData(0.29, 100L)]
    [InlineData(0.57, 100L)]
    [InlineData(0.100008086534217, 42_336_000_000_000L)]
    [InlineData(0.123456789012345, 24_611_096_071L)]
    [InlineData(0.999, 4_233_600_000_000L)]
    public void The_analyzer_keeps_the_same_margin_as_the_library(double fraction, long windowTicks)
    {
        var window = TimeSpan.FromTicks(windowTicks);
        Assert.Equal(MarginFor(LibraryMargin, fraction, window), MarginFor(AnalyzerMargin, fraction, window));
    }

    private static TimeSpan MarginFor(Type margin, double fraction, TimeSpan window)
    {
        var created = margin.GetMethod("Fraction", BindingFlags.Public | BindingFlags.Static)!.Invoke(null, [fraction, TimeSpan.Zero]);
        return (TimeSpan)margin.GetMethod("For", [typeof(TimeSpan)])!.Invoke(created, [window])!;
    }
}
