/** One figure card of a simulator run: a label, the figure, a line of detail. */
import styles from './sim.module.css';

export function Figure({
  label,
  value,
  detail,
  testId,
}: {
  label: string;
  value: string;
  detail: string;
  testId?: string;
}) {
  return (
    <div className={styles.figure}>
      <div className={styles.figureLabel}>{label}</div>
      <div className={styles.figureValue} data-testid={testId}>
        {value}
      </div>
      <div className={styles.figureDetail}>{detail}</div>
    </div>
  );
}
