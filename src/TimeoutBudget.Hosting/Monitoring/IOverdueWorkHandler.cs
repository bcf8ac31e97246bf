namespace TimeoutBudget.Hosting;

/// <summary>Receives work found past its deadline by the sweep, once per item — for example to mark a run "timed out" in its store.</summary>
public interface IOverdueWorkHandler
{
    /// <summary>Handles one overdue item. Exceptions are logged and swallowed by the monitor; the sweep goes on.</summary>
    /// <param name="work">The overdue budget, with its path, deadline and <see cref="OverdueWork.Tag"/>.</param>
    void OnOverdue(OverdueWork work);
}
