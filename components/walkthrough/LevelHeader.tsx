/** The top of a level's page, built or coming: where it sits, its question, what and why. */
import type { LevelInfo } from './catalog.ts';
import styles from './walkthrough.module.css';

export function LevelHeader({ info, meta }: { info: LevelInfo; meta: string }) {
  return (
    <header>
      <nav className={styles.crumbs} aria-label="Breadcrumb">
        <a href="/">Dashboard</a> <span aria-hidden>›</span> <a href="/levels">Walkthroughs</a>{' '}
        <span aria-hidden>›</span> <span>Level {info.n}</span>
      </nav>
      <p className={styles.eyebrow}>
        Level {info.n} of 8 · {meta}
      </p>
      <h1 className={styles.title}>{info.title}</h1>
      <p className={styles.question}>{info.question}</p>
      <div className={styles.intro}>
        <section>
          <h2>What this level is about</h2>
          <p>{info.about}</p>
        </section>
        <section>
          <h2>Why it matters in a real backend</h2>
          <p>{info.why}</p>
        </section>
      </div>
    </header>
  );
}
