import { App, Flex, Input, Table, TableProps } from 'antd';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { ReactNode, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ProblemAlert } from './problem-alert';

/** What every paginated list of the admin API answers (src/common/pagination.ts). */
export interface PagedResult<T> {
  items: T[];
  meta: { page: number; pageSize: number; total: number };
}

export interface PageRequest {
  page: number;
  pageSize: number;
  /** The search box's text, trimmed; undefined when empty. */
  search?: string;
}

/**
 * A paginated, searchable list: every staff list in the console is this one component, so paging,
 * the search box, loading and errors look and behave the same everywhere.
 */
export function PagedTable<T extends object>({
  queryKey,
  fetch,
  columns,
  rowKey,
  searchPlaceholder,
  toolbar,
  testId,
  ...table
}: {
  /** The query's cache key (its first element should be the API path, so mutations can invalidate it). */
  queryKey: readonly unknown[];
  fetch: (request: PageRequest) => Promise<PagedResult<T>>;
  columns: TableProps<T>['columns'];
  rowKey: TableProps<T>['rowKey'];
  /** Shows the search box when given. */
  searchPlaceholder?: string;
  toolbar?: ReactNode;
  testId?: string;
} & Omit<TableProps<T>, 'columns' | 'rowKey' | 'dataSource' | 'pagination' | 'loading'>) {
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(20);
  const [search, setSearch] = useState<string>();
  const request: PageRequest = { page, pageSize, search };
  const result = useQuery({ queryKey: [...queryKey, request], queryFn: () => fetch(request), placeholderData: keepPreviousData });

  return (
    <Flex vertical gap={12} data-testid={testId}>
      {(searchPlaceholder || toolbar) && (
        <Flex justify="space-between" gap={8} wrap>
          {searchPlaceholder ? (
            <Input.Search
              allowClear
              placeholder={searchPlaceholder}
              aria-label={searchPlaceholder}
              style={{ maxWidth: 320 }}
              onSearch={(value) => {
                setPage(1);
                setSearch(value.trim() || undefined);
              }}
            />
          ) : (
            <span />
          )}
          {toolbar}
        </Flex>
      )}
      {result.error && <ProblemAlert error={result.error} />}
      {/* The table scrolls sideways in this wrapper, focusable so keyboard users can scroll it
          (axe scrollable-region-focusable), rather than with antd's scroll.x: that renders a hidden
          (aria-hidden) measuring row holding a copy of every column title, and a selectable
          table's title is the focusable select-all checkbox (axe aria-hidden-focus). */}
      <div tabIndex={0} style={{ overflowX: 'auto' }}>
        <Table<T>
          size="middle"
          {...table}
          rowKey={rowKey}
          columns={columns}
          dataSource={result.data?.items ?? []}
          loading={result.isFetching && !result.data}
          pagination={{
            current: page,
            pageSize,
            total: result.data?.meta.total ?? 0,
            showSizeChanger: true,
            hideOnSinglePage: false,
            onChange: (next, size) => {
              setPage(size === pageSize ? next : 1);
              setPageSize(size);
            },
          }}
        />
      </div>
    </Flex>
  );
}

/** Asks before a destructive action; resolves true when confirmed. Every destructive action uses it. */
export function useConfirm() {
  const { modal } = App.useApp();
  const { t } = useTranslation();
  return (title: string, content?: ReactNode) =>
    new Promise<boolean>((resolve) => {
      modal.confirm({
        title,
        content,
        okText: t('common.confirm'),
        cancelText: t('common.cancel'),
        okButtonProps: { danger: true },
        onOk: () => resolve(true),
        onCancel: () => resolve(false),
      });
    });
}
