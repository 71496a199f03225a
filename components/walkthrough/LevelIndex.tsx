/** /levels: all eight levels, built or coming, each with the question it answers. */
import { LEVELS } from './catalog.ts';
import { WALKTHROUGHS } from './levels.ts';
import styles from './walkthrough.module.css';

export function LevelIndex() {
  const built = LEVELS.filter((level) => level.status === 'built').length;
  return (
    <main className={styles.page}>
      <nav className={styles.crumbs} aria-label="Breadcrumb">
        <a href="/">Dashboard</a> <span aria-hidden>›</span> <span>Walkthroughs</span>
      </nav>
      <h1 className={styles.title} style={{ marginTop: 14 }}>
        Guided walkthroughs
      </h1>
      <p className={styles.lede}>
        TinyCache is built in eight levels, each answering a question engineers meet when a backend
        meets real load. A walkthrough takes you through a level on the cluster this playground is
        running: real node processes, real requests, and a step only counts as done once the cluster
        shows it happened. {built} of 8 are built; the rest are coming.
      </p>
      <ol className={styles.levels}>
        {LEVELS.map((level) => {
          const steps = WALKTHROUGHS[level.n]?.steps.length;
          return (
            <li key={level.n}>
              <article className={styles.levelCard} data-status={level.status}>
                <div className={styles.levelTop}>
                  <a className={styles.levelLink} href={`/levels/${level.n}`}>
                    Level {level.n}: {level.title}
                  </a>
                  <span className={styles.status} data-status={level.status}>
                    {level.status === 'built' ? 'Built' : 'Coming'}
                  </span>
                </div>
                <p>{level.question}</p>
                <p className={styles.levelMeta}>
                  {level.status === 'built'
                    ? `About ${level.minutes} minutes · ${steps} steps · target ${level.targetRate}`
                    : `Coming · target ${level.targetRate} · see what it will teach`}
                </p>
              </article>
            </li>
          );
        })}
      </ol>
    </main>
  );
}
