using System.Globalization;

namespace TimeoutBudget;

/// <summary>
/// How much earlier than its parent a child must expire. The margin is what lets an inner layer time out, unwind and
/// report before the outer layer gives up on it.
/// </summary>
/// <remarks>
/// The default is 5 % of the parent's remaining time with a floor of 10 ms, so a 180 s parent keeps 9 s back and a
/// 100 ms parent keeps 10 ms back. This file is compiled into the analyzer as well (netstandard2.0).
/// </remarks>
public sealed class BudgetMargin : IEquatable<BudgetMargin>
{
    /// <summary>The floor of <see cref="Default"/>: 10 ms, roughly the resolution of a timer on a busy machine.</summary>
    public static readonly TimeSpan DefaultFloor = TimeSpan.FromMilliseconds(10);

    // FractionOfWindow in units of 2^-64, so that a margin is one integer multiplication: a double multiply and its
    // conversion back were the longest wait on the way from a child's clock read to its deadline (issue 15, tenth slice,
    // docs/performance.md).
    private readonly ulong _binaryFraction;

    private BudgetMargin(double fraction, TimeSpan floor)
    {
        FractionOfWindow = fraction;
        Floor = floor;
        _binaryFraction = ToBinaryFraction(fraction);
    }

    /// <summary>5 % of the parent's remaining time, at least 10 ms.</summary>
    public static BudgetMargin Default { get; } = new(0.05, DefaultFloor);

    /// <summary>No margin at all: a child may expire at the same instant as its parent's window ends. Not recommended.</summary>
    public static BudgetMargin None { get; } = new(0, TimeSpan.Zero);

    /// <summary>The fraction of the parent's window kept back (0 for an absolute margin).</summary>
    public double FractionOfWindow { get; }

    /// <summary>The smallest margin kept back; for an absolute margin, the margin itself.</summary>
    public TimeSpan Floor { get; }

    /// <summary>A margin that is a fraction of the parent's remaining window, never less than <paramref name="floor"/>.</summary>
    /// <param name="fraction">A fraction from 0 (inclusive) to 1 (exclusive), e.g. 0.05 for 5 %.</param>
    /// <param name="floor">The smallest margin; defaults to none.</param>
    /// <exception cref="ArgumentOutOfRangeException">The fraction is NaN, negative or at least 1, or the floor is negative or infinite.</exception>
    public static BudgetMargin Fraction(double fraction, TimeSpan floor = default)
    {
        if (double.IsNaN(fraction) || fraction < 0 || fraction >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "A margin fraction must be at least 0 and below 1 (e.g. 0.05 for 5 %).");
        }

        CheckFinite(floor, nameof(floor));
        return new BudgetMargin(fraction, floor);
    }

    /// <summary>A fixed margin, whatever the parent's window.</summary>
    /// <param name="margin">The margin; zero or positive and finite.</param>
    /// <exception cref="ArgumentOutOfRangeException">The margin is negative or infinite.</exception>
    public static BudgetMargin Absolute(TimeSpan margin)
    {
        CheckFinite(margin, nameof(margin));
        return new BudgetMargin(0, margin);
    }

    /// <summary>Parses <c>"5%"</c> (a fraction with the default 10 ms floor) or a duration such as <c>"2s"</c> (absolute).</summary>
    /// <param name="text">The margin text.</param>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    /// <exception cref="FormatException">The text is neither a percentage below 100 nor a duration.</exception>
    public static BudgetMargin Parse(string text)
    {
        if (text is null)
        {
            throw new ArgumentNullException(nameof(text));
        }

        if (TryParse(text, out var margin, out var error))
        {
            return margin;
        }

        throw new FormatException(error);
    }

    internal static bool TryParse(string text, out BudgetMargin margin, out string error)
    {
        margin = Default;
        var trimmed = text.Trim();
        if (trimmed.EndsWith("%", StringComparison.Ordinal))
        {
            var number = trimmed.Substring(0, trimmed.Length - 1).Trim();
            if (number.Length == 0 || number.Length > 12 || number[0] == '-' || number[0] == '+' ||
                !decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var percent) ||
                percent >= 100)
            {
                error = $"{DurationText.Quote(text)} is not a valid margin: write a percentage from 0% to below 100%, or a duration such as \"2s\".";
                return false;
            }

            margin = new BudgetMargin((double)(percent / 100m), DefaultFloor);
            error = string.Empty;
            return true;
        }

        if (!DurationText.TryParse(trimmed, allowInfinite: false, out var absolute, out var durationError))
        {
            error = $"{durationError} A margin is a percentage such as \"5%\" or a duration such as \"2s\".";
            return false;
        }

        margin = new BudgetMargin(0, absolute);
        error = string.Empty;
        return true;
    }

    /// <summary>The margin for a parent window of the given length: never negative, never more than the window, zero for a window of zero or less.</summary>
    /// <param name="window">The parent's remaining window (after its reserve).</param>
    /// <returns>
    /// The time a child must leave unused at the end of the window: <see cref="FractionOfWindow"/> of the window (as the
    /// decimal it was written as) rounded down to a whole tick — exactly while the window times the fraction's denominator
    /// is below 2^64, otherwise at most one tick more — at least <see cref="Floor"/>, at most the window.
    /// </returns>
    public TimeSpan For(TimeSpan window) => TimeSpan.FromTicks(For(window.Ticks, Floor.Ticks));

    /// <summary>The margin for a window counted in any unit (<see cref="TimeSpan"/> ticks, or a clock's timestamp ticks).</summary>
    /// <param name="window">The window's length.</param>
    /// <param name="floor"><see cref="Floor"/> in the same unit, rounded up.</param>
    /// <returns>The margin in that unit: the fraction of the window rounded down, at least the floor, at most the window.</returns>
    internal long For(long window, long floor)
    {
        var length = Math.Max(window, 0);
        var fractional = (long)MultiplyHigh((ulong)length, _binaryFraction);
        return Math.Min(Math.Max(fractional, floor), length);
    }

    /// <inheritdoc />
    public bool Equals(BudgetMargin? other) =>
        other is not null && FractionOfWindow.Equals(other.FractionOfWindow) && Floor == other.Floor;

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as BudgetMargin);

    /// <inheritdoc />
    public override int GetHashCode() => (FractionOfWindow.GetHashCode() * 397) ^ Floor.GetHashCode();

    /// <summary>The margin as written in a plan: <c>"5%"</c>, <c>"5% (at least 10 ms)"</c> or <c>"2 s"</c>.</summary>
    /// <returns>The text.</returns>
    public override string ToString()
    {
        if (FractionOfWindow <= 0)
        {
            return DurationText.Format(Floor);
        }

        var percent = ((decimal)FractionOfWindow * 100m).ToString("0.###", CultureInfo.InvariantCulture) + "%";
        return Floor > TimeSpan.Zero ? $"{percent} (at least {DurationText.Format(Floor)})" : percent;
    }

    /// <summary>
    /// A fraction from 0 to below 1 in units of 2^-64, rounded up from the decimal it was written as (a double's 15
    /// significant digits: 0.3, not the binary 0.29999999999999998890 a double holds). A window times it, rounded down,
    /// is then that decimal fraction of the window exactly, as long as the window is shorter than 2^64 divided by the
    /// fraction's denominator (for a percentage with two decimals, 21 days in nanoseconds); beyond that it is at most one
    /// unit more.
    /// </summary>
    private static ulong ToBinaryFraction(double fraction)
    {
        const decimal TwoTo32 = 4294967296m;

        // Both products are exact where it matters: the first has at most 15 + 10 significant digits, which a decimal
        // holds; the second can pass a decimal's 28 digits only for a fraction below 10^-5, and then rounds by less than
        // its distance to the next whole number, so its ceiling is the true one.
        var upper = (decimal)fraction * TwoTo32;
        var high = decimal.Truncate(upper);
        var low = decimal.Ceiling((upper - high) * TwoTo32);

        // A fraction so close to 1 that its 15 digits round to 1 keeps every tick of the window but the last.
        return high >= TwoTo32 ? ulong.MaxValue : ((ulong)high << 32) + (ulong)low;
    }

    /// <summary>The high 64 bits of the 128-bit product.</summary>
    private static ulong MultiplyHigh(ulong left, ulong right)
    {
#if NETSTANDARD2_0
        // The analyzer's target has no 128-bit multiplication: four 32-bit partial products.
        ulong leftLow = (uint)left, leftHigh = left >> 32, rightLow = (uint)right, rightHigh = right >> 32;
        var lowLow = leftLow * rightLow;
        var highLow = leftHigh * rightLow;
        var middle = (lowLow >> 32) + (uint)highLow + (leftLow * rightHigh);
        return (leftHigh * rightHigh) + (highLow >> 32) + (middle >> 32);
#else
        return Math.BigMul(left, right, out _);
#endif
    }

    private static void CheckFinite(TimeSpan value, string name)
    {
        if (value < TimeSpan.Zero || value > DurationText.MaxValue)
        {
            throw new ArgumentOutOfRangeException(name, value, "A margin must be zero or positive and at most 365 days.");
        }
    }
}
