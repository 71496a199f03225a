'use client';
/** Labelled inputs with their inline errors, and the message line under a form. */
import type { ReactNode } from 'react';
import styles from './dashboard.module.css';

export function NumberField({
  id,
  label,
  value,
  onChange,
  error,
  disabled = false,
  min,
  max,
  step,
}: {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  error: string | undefined;
  disabled?: boolean;
  min?: number;
  max?: number;
  step?: number;
}) {
  return (
    <div className={styles.field}>
      <label className={styles.label} htmlFor={id}>
        {label}
      </label>
      <input
        id={id}
        className={styles.input}
        type="number"
        inputMode="decimal"
        value={value}
        min={min}
        max={max}
        step={step}
        disabled={disabled}
        aria-invalid={error !== undefined}
        aria-describedby={error === undefined ? undefined : `${id}-error`}
        onChange={(e) => onChange(e.target.value)}
      />
      {error !== undefined && (
        <span id={`${id}-error`} className={styles.fieldError}>
          {error}
        </span>
      )}
    </div>
  );
}

/** One figure in a strip of them (a value over its label); `bad` draws it in red. */
export function Figure({
  label,
  value,
  bad = false,
  testId,
}: {
  label: string;
  value: string;
  bad?: boolean;
  testId?: string;
}) {
  return (
    <div className={styles.figure} data-testid={testId}>
      <div className={bad ? styles.figureValueBad : styles.figureValue}>{value}</div>
      <div className={styles.figureLabel}>{label}</div>
    </div>
  );
}

/** A line under a form: an error (red) or a note; always takes its space, so nothing jumps. */
export function Message({ error, children }: { error: string | null; children?: ReactNode }) {
  return error !== null ? (
    <p className={styles.formError} role="alert">
      {error}
    </p>
  ) : (
    <p className={styles.formMessage}>{children}</p>
  );
}

export function TextField({
  id,
  label,
  value,
  onChange,
  error,
  hint,
  placeholder,
  disabled = false,
  mono = false,
}: {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  error?: string | undefined;
  /** Shown under the input when there is no error. */
  hint?: ReactNode;
  placeholder?: string;
  disabled?: boolean;
  mono?: boolean;
}) {
  const describedBy =
    error !== undefined ? `${id}-error` : hint !== undefined ? `${id}-hint` : undefined;
  return (
    <div className={styles.field}>
      <label className={styles.label} htmlFor={id}>
        {label}
      </label>
      <input
        id={id}
        className={mono ? styles.inputMono : styles.input}
        type="text"
        value={value}
        placeholder={placeholder}
        disabled={disabled}
        spellCheck={false}
        autoComplete="off"
        aria-invalid={error !== undefined}
        aria-describedby={describedBy}
        onChange={(e) => onChange(e.target.value)}
      />
      {error !== undefined ? (
        <span id={`${id}-error`} className={styles.fieldError}>
          {error}
        </span>
      ) : (
        hint !== undefined && (
          <span id={`${id}-hint`} className={styles.fieldHint}>
            {hint}
          </span>
        )
      )}
    </div>
  );
}

export interface Choice<T extends string> {
  readonly value: T;
  readonly label: string;
}

/** A labelled select of `choices`; `empty` is shown (and the select disabled) when there are none. */
export function SelectField<T extends string>({
  id,
  label,
  value,
  choices,
  onChange,
  disabled = false,
  empty,
  spaced = false,
}: {
  id: string;
  label: string;
  value: T | null;
  choices: readonly Choice<T>[];
  onChange: (value: T) => void;
  disabled?: boolean;
  empty?: string;
  /** More room below, as the first field of a panel. */
  spaced?: boolean;
}) {
  return (
    <div className={spaced ? styles.fieldSpaced : styles.field}>
      <label className={styles.label} htmlFor={id}>
        {label}
      </label>
      <select
        id={id}
        className={styles.input}
        value={value ?? ''}
        disabled={disabled || choices.length === 0}
        onChange={(e) => {
          const choice = choices.find((c) => c.value === e.target.value);
          if (choice !== undefined) onChange(choice.value);
        }}
      >
        {choices.length === 0 && <option value="">{empty ?? 'none'}</option>}
        {choices.map((choice) => (
          <option key={choice.value} value={choice.value}>
            {choice.label}
          </option>
        ))}
      </select>
    </div>
  );
}
